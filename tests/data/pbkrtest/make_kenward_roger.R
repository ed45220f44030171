# Kenward-Roger references for interbrain.stats.mixed (tests/test_kenward_roger.py).
#
# Run from this folder:  Rscript make_kenward_roger.R
# Writes
#   data_<case>.csv         the input data (generated here with a fixed seed, written,
#                           read back and fitted from the file so both sides use the
#                           same numbers)
#   kr_coefficients.csv     per case and fixed effect: estimate, unadjusted SE
#                           (lme4's vcov), Kenward-Roger SE, df, t, p (lmerTest's
#                           summary(fit, ddf = "Kenward-Roger")) and pbkrtest's
#                           get_Lb_ddf df of the unit contrast; also lmerTest's
#                           Satterthwaite df and p (summary(fit)), for the check
#                           that the Satterthwaite path is unchanged
#   kr_vcov.csv             per case the full adjusted covariance (pbkrtest::vcovAdj)
#                           and the unadjusted one (vcov), long format
#   kr_fits.csv             per case theta (lme4's getME(fit, "theta")), sigma, REML
#                           criterion
#   kr_contrasts.csv        further contrasts: one- and two-row L with pbkrtest's
#                           Lb_ddf and the KR variance of the one-row ones
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
})

# Tight optimiser tolerances so that theta is known to ~1e-8 (lme4's defaults stop
# earlier); the fit is otherwise lmer's default REML fit.
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15,
                                   xtol_rel = 1e-14, ftol_rel = 1e-15,
                                   maxeval = 100000),
                    check.conv.singular = "ignore")

## (a) balanced growth: 8 dyads x 6 sessions
set.seed(106)
dyads <- 8; sessions <- 1:6
a <- expand.grid(session = sessions, dyad = sprintf("d%02d", 1:dyads))[, c("dyad", "session")]
b0 <- rnorm(dyads, 0, 0.10); b1 <- rnorm(dyads, 0, 0.03)
di <- as.integer(factor(a$dyad))
a$y <- 0.30 + 0.04 * a$session + b0[di] + b1[di] * a$session + rnorm(nrow(a), 0, 0.06)

## (b) sparse: 8 dyads, 18 of the 48 dyad-sessions, unbalanced (1 to 3 per dyad);
## seed 3 gives an interior fit, seed 5 a singular one (slope variance 0), kept as
## case "sparse_singular"
sparse_data <- function(seed) {
  set.seed(seed)
  n_per <- c(1, 2, 2, 2, 2, 3, 3, 3)
  b <- do.call(rbind, lapply(1:8, function(d)
    data.frame(dyad = sprintf("d%02d", d), session = sort(sample(1:6, n_per[d])))))
  b0 <- rnorm(8, 0, 0.15); b1 <- rnorm(8, 0, 0.08)
  di <- as.integer(factor(b$dyad))
  b$y <- 0.20 + 0.05 * b$session + b0[di] + b1[di] * b$session + rnorm(nrow(b), 0, 0.05)
  b
}
b <- sparse_data(3)
b_singular <- sparse_data(5)

## (c) random intercept only: 10 dyads, 3 to 6 sessions each
set.seed(303)
n_per <- c(3, 4, 5, 6, 6, 5, 4, 3, 6, 5)
c_ <- do.call(rbind, lapply(1:10, function(d)
  data.frame(dyad = sprintf("d%02d", d), session = seq_len(n_per[d]))))
b0 <- rnorm(10, 0, 0.2)
di <- as.integer(factor(c_$dyad))
c_$y <- 1.0 + 0.03 * c_$session + b0[di] + rnorm(nrow(c_), 0, 0.15)

## (d) crossed dyad and therapist intercepts: 12 dyads x 5 sessions, 3 therapists
set.seed(404)
d <- expand.grid(session = 1:5, dyad = sprintf("d%02d", 1:12))[, c("dyad", "session")]
di <- as.integer(factor(d$dyad))
d$therapist <- sprintf("t%d", (di - 1) %% 3 + 1)
ti <- as.integer(factor(d$therapist))
b0 <- rnorm(12, 0, 0.10); t0 <- c(-0.25, 0.05, 0.20)
d$y <- 0.5 + 0.02 * d$session + b0[di] + t0[ti] + rnorm(nrow(d), 0, 0.08)

## (e) outcome model: within/between split of session-level synchrony
set.seed(503)
e <- expand.grid(session = 1:6, dyad = sprintf("d%02d", 1:10))[, c("dyad", "session")]
di <- as.integer(factor(e$dyad))
mu <- rnorm(10, 0.4, 0.08)
e$x <- mu[di] + rnorm(nrow(e), 0, 0.06)
e$x_between <- ave(e$x, e$dyad)
e$x_within <- e$x - e$x_between
e$x <- NULL
u0 <- rnorm(10, 0, 1.0); u1 <- rnorm(10, 0, 4.0)
e$m <- 10 - 0.3 * e$session + 6 * e$x_within + 5 * e$x_between + u0[di] +
  u1[di] * e$x_within + rnorm(nrow(e), 0, 0.7)

cases <- list(
  balanced = list(data = a, formula = y ~ session + (1 + session | dyad)),
  sparse = list(data = b, formula = y ~ session + (1 + session | dyad)),
  sparse_singular = list(data = b_singular,
                         formula = y ~ session + (1 + session | dyad)),
  intercept = list(data = c_, formula = y ~ session + (1 | dyad)),
  crossed = list(data = d, formula = y ~ session + (1 | dyad) + (1 | therapist)),
  outcome = list(data = e, formula = m ~ x_within + x_between + session +
                   (1 + x_within | dyad))
)

coef_rows <- list(); vcov_rows <- list(); fit_rows <- list(); con_rows <- list()
for (nm in names(cases)) {
  file <- sprintf("data_%s.csv", nm)
  write.csv(cases[[nm]]$data, file, row.names = FALSE)
  dat <- read.csv(file)
  fit <- lmerTest::lmer(cases[[nm]]$formula, data = dat, REML = TRUE, control = ctrl)
  V0 <- as.matrix(vcov(fit))
  Va <- vcovAdj(fit)
  VaM <- as.matrix(Va)
  kr <- summary(fit, ddf = "Kenward-Roger")$coefficients
  sat <- summary(fit, ddf = "Satterthwaite")$coefficients
  terms <- rownames(kr)
  p <- length(terms)
  lb <- sapply(seq_len(p), function(j) { L <- rep(0, p); L[j] <- 1; get_Lb_ddf(fit, L) })
  coef_rows[[nm]] <- data.frame(case = nm, term = terms, estimate = kr[, "Estimate"],
    se_unadjusted = sqrt(diag(V0)), se_kr = kr[, "Std. Error"], df_kr = kr[, "df"],
    t = kr[, "t value"], p = kr[, "Pr(>|t|)"], df_lb_ddf = lb,
    df_satterthwaite = sat[, "df"], p_satterthwaite = sat[, "Pr(>|t|)"])
  vcov_rows[[nm]] <- data.frame(case = nm, row = rep(terms, times = p),
    col = rep(terms, each = p), vcov_adjusted = as.vector(VaM),
    vcov_unadjusted = as.vector(V0))
  th <- getME(fit, "theta")
  fit_rows[[nm]] <- data.frame(case = nm, formula = deparse1(cases[[nm]]$formula),
    index = seq_along(th), theta = unname(th), sigma = sigma(fit),
    reml_criterion = unname(REMLcrit(fit)), singular = isSingular(fit),
    condi = attr(Va, "condi"))
  # a general contrast (all weights 1, then alternating) and a two-row one
  L1 <- rep(1, p)
  L2 <- (-1)^(seq_len(p))
  for (k in 1:2) {
    L <- if (k == 1) L1 else L2
    con_rows[[paste(nm, k)]] <- data.frame(case = nm, contrast = k, q = 1,
      weights = paste(L, collapse = " "), df = Lb_ddf(L, V0, Va),
      var_kr = drop(t(L) %*% VaM %*% L), var_unadjusted = drop(t(L) %*% V0 %*% L))
  }
  Lm <- rbind(L1, L2)
  con_rows[[paste(nm, 3)]] <- data.frame(case = nm, contrast = 3, q = 2,
    weights = paste(c(L1, L2), collapse = " "), df = Lb_ddf(Lm, V0, Va),
    var_kr = NA, var_unadjusted = NA)
}
wr <- function(x, f) write.csv(do.call(rbind, x), f, row.names = FALSE)
wr(coef_rows, "kr_coefficients.csv")
wr(vcov_rows, "kr_vcov.csv")
wr(fit_rows, "kr_fits.csv")
wr(con_rows, "kr_contrasts.csv")
options(digits = 7)
print(do.call(rbind, fit_rows))
print(do.call(rbind, coef_rows))
cat(R.version.string, "\n")
for (p in c("lme4", "pbkrtest", "lmerTest", "Matrix"))
  cat(p, as.character(packageVersion(p)), "\n")
