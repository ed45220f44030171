# Reference values for interbrain.stats.cluster_robust: OLS with CR2 cluster-robust
# covariance and Satterthwaite degrees of freedom, as clubSandwich computes them.
#
# Run from this folder:  Rscript make_cr2.R
# Writes the input data sets (data_<name>.csv, generated here with fixed seeds) and
# the expected results (expected_cr2.csv, one row per data set and coefficient).
suppressPackageStartupMessages(library(clubSandwich))
RNGkind("Mersenne-Twister", "Inversion", "Rejection")

within_between <- function(d) {
  d$synchrony_between <- ave(d$synchrony, d$dyad)
  d$synchrony_within <- d$synchrony - d$synchrony_between
  d
}

# 1. balanced: 10 dyads x 6 sessions, within/between split, dyad-specific slopes
set.seed(20240501)
d1 <- expand.grid(session = 1:6, dyad = sprintf("d%02d", 1:10))[, c("dyad", "session")]
u0 <- rnorm(10, 0, 1); u1 <- rnorm(10, 0, 0.8); s0 <- rnorm(10, 0.3, 0.1)
g <- as.integer(factor(d1$dyad))
d1$synchrony <- s0[g] + rnorm(nrow(d1), 0, 0.08) + 0.01 * d1$session
d1 <- within_between(d1)
d1$measure <- 2 + u0[g] + (0.5 + u1[g]) * d1$synchrony_within * 10 +
  1.5 * d1$synchrony_between - 0.2 * d1$session + rnorm(nrow(d1))
d1 <- d1[, c("dyad", "session", "synchrony", "measure")]

# 2. sparse and unbalanced: 8 dyads, sessions missing (cluster sizes 2 to 6)
set.seed(7)
keep <- list(1:6, c(1, 2, 4, 6), c(2, 5), c(1, 3, 4, 5, 6), c(1, 6), 1:3,
             c(2, 3, 5, 6), c(1, 4, 5))
d2 <- do.call(rbind, lapply(seq_along(keep), function(i)
  data.frame(dyad = sprintf("p%d", i), session = keep[[i]])))
g <- as.integer(factor(d2$dyad))
d2$synchrony <- rnorm(8, 0.25, 0.1)[g] + rnorm(nrow(d2), 0, 0.05)
d2 <- within_between(d2)
d2$measure <- rnorm(8, 0, 1.5)[g] + rnorm(8, 0, 6)[g] * d2$synchrony_within +
  0.1 * d2$session + rnorm(nrow(d2), 0, 0.7)
d2 <- d2[, c("dyad", "session", "synchrony", "measure")]

# 3. a dyad-level indicator covariate (site): I - H_jj of that dyad is singular,
#    so the adjustment matrix needs the pseudo-inverse square root
set.seed(99)
d3 <- expand.grid(session = 1:5, dyad = sprintf("s%d", 1:9))[, c("dyad", "session")]
d3 <- d3[!(d3$dyad %in% c("s3", "s7") & d3$session %in% c(2, 4)), ]
g <- as.integer(factor(d3$dyad))
d3$synchrony <- rnorm(9, 0.2, 0.05)[g] + rnorm(nrow(d3), 0, 0.03)
d3 <- within_between(d3)
d3$site <- as.numeric(d3$dyad == "s1")
d3$measure <- rnorm(9)[g] + 3 * d3$synchrony_within + rnorm(nrow(d3), 0, 0.5)
d3 <- d3[, c("dyad", "session", "synchrony", "site", "measure")]

sets <- list(
  balanced = list(data = d1, formula = measure ~ synchrony_within + synchrony_between + session),
  sparse = list(data = d2, formula = measure ~ synchrony_within + synchrony_between + session),
  site = list(data = d3, formula = measure ~ synchrony_within + synchrony_between + session + site),
  plain = list(data = d2, formula = measure ~ synchrony + session))

out <- list()
for (name in names(sets)) {
  d <- sets[[name]]$data
  write.csv(d, sprintf("data_%s.csv", if (name == "plain") "sparse" else name),
            row.names = FALSE)
  d <- within_between(d)
  fit <- lm(sets[[name]]$formula, data = d)
  ct <- coef_test(fit, vcov = "CR2", cluster = d$dyad, test = "Satterthwaite")
  V <- vcovCR(fit, cluster = d$dyad, type = "CR2")
  out[[name]] <- data.frame(
    dataset = if (name == "plain") "sparse" else name,
    formula = paste(deparse(sets[[name]]$formula), collapse = ""),
    term = ct$Coef, estimate = ct$beta, std_error = ct$SE, df = ct$df_Satt,
    t = ct$tstat, p = ct$p_Satt, vcov_row = apply(as.matrix(V), 1,
      function(r) paste(sprintf("%.17g", r), collapse = " ")))
}
res <- do.call(rbind, out)
write.csv(res, "expected_cr2.csv", row.names = FALSE)
print(res[, 1:8], digits = 10)
cat("R", R.version.string, "; clubSandwich", as.character(packageVersion("clubSandwich")), "\n")
