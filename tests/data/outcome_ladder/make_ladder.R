# Reference fits of rungs 1 and 2 of the outcome-model ladder (lme4 + lmerTest),
# on the input data of ../clubsandwich (data_balanced.csv, data_sparse.csv).
# Run from this folder:  Rscript make_ladder.R   -> expected_ladder.csv
suppressPackageStartupMessages({library(lme4); library(lmerTest)})
rungs <- c(
  rung1 = "measure ~ synchrony_within + synchrony_between + session + (1 + synchrony_within | dyad)",
  rung2 = "measure ~ synchrony_within + synchrony_between + session + (1 | dyad) + (0 + synchrony_within | dyad)")
out <- list()
for (name in c("balanced", "sparse")) {
  d <- read.csv(file.path("..", "clubsandwich", sprintf("data_%s.csv", name)))
  d$synchrony_between <- ave(d$synchrony, d$dyad)
  d$synchrony_within <- d$synchrony - d$synchrony_between
  for (r in names(rungs)) {
    fit <- lmer(as.formula(rungs[[r]]), data = d, REML = TRUE)
    co <- summary(fit)$coefficients
    vc <- as.data.frame(VarCorr(fit))
    out[[paste(name, r)]] <- rbind(
      data.frame(dataset = name, rung = r, kind = "fixed", term = rownames(co),
                 estimate = co[, "Estimate"], std_error = co[, "Std. Error"],
                 df = co[, "df"], p = co[, "Pr(>|t|)"]),
      data.frame(dataset = name, rung = r, kind = "varcorr",
                 term = paste(vc$grp, vc$var1, ifelse(is.na(vc$var2), "", vc$var2)),
                 estimate = vc$vcov, std_error = NA, df = NA, p = NA),
      data.frame(dataset = name, rung = r, kind = "singular", term = "isSingular",
                 estimate = as.numeric(isSingular(fit)), std_error = NA, df = NA, p = NA))
  }
}
res <- do.call(rbind, out)
write.csv(res, "expected_ladder.csv", row.names = FALSE)
print(res, digits = 8)
cat("R", R.version.string, "; lme4", as.character(packageVersion("lme4")),
    "; lmerTest", as.character(packageVersion("lmerTest")), "\n")
