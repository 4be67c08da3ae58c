"""The names of the per-run numbers a report summarises (``bench.report.summary``): the best and last evaluation's
FID and IS, the metrics taken at the best step, the bootstrap intervals and the held-out best step. A leaf, so that a
grid file's ``[[claims]]`` are checked against them when the grid loads (``bench.grid``) without the report."""

from bench.metrics.tail import TAIL_COLUMNS

HEALTH_METRICS = ("coverage", "density", "diversity", "diversity_min", "collapsed_classes", "collapsed")
DETAIL_METRICS = ("kid_mean", "precision", "recall", *HEALTH_METRICS, "ifid_mean", "fid_head", "fid_tail",
                  "cond_acc", "judge_acc", "d_acc_real", "d_acc_fake", "label_sens")
TAIL_METRICS = TAIL_COLUMNS  # the means over the rarest classes (bench.metrics.tail), shown beside head/tail
DETAIL_METRICS += TAIL_METRICS
INTERVAL_METRICS = ("fid_lo", "fid_hi", "fid_head_lo", "fid_head_hi", "fid_tail_lo", "fid_tail_hi")
HELDOUT_METRICS = ("heldout_step", "fid_heldout", "fid_half_b_min", "optimism", "coverage_heldout",
                   "diversity_heldout", "collapsed_heldout", "cond_acc_heldout")  # half B at the step chosen on A
SUMMARY_METRICS = ("best_step", "fid_best", "is_best", "last_step", "fid_last", "is_last", *DETAIL_METRICS,
                   *INTERVAL_METRICS, *HELDOUT_METRICS)
