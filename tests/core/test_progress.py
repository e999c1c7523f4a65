"""One progress and ETA for the CLI and the TUI, fed the typed metric records."""

from ftui.core.runs.progress import Progress, clock, duration_words, eta_seconds
from ftui.core.runs.records import EvalRecord, ResumeRecord, RunStatus, TrainRecord


def test_eta_follows_the_recent_rate():
    assert eta_seconds([(0.0, 10), (10.0, 20)], 100) == 80.0
    assert eta_seconds([(0.0, 10)], 100) is None
    assert clock(3725) == "1:02:05" and clock(65) == "1:05" and clock(None) == "--:--"
    assert (
        duration_words(20) == "20 s"
        and duration_words(46 * 60) == "46 min"
        and duration_words(3.5 * 3600) == "3.5 h"
    )


def test_progress_takes_the_last_figures_and_forgets_the_rate_before_a_resume():
    progress = Progress()
    progress.add(TrainRecord(time=0.0, step=1, max_steps=10, loss=2.0, tokens_per_second=100.0))
    progress.add(TrainRecord(time=5.0, step=2, max_steps=10, loss=1.5, gpu_peak_gib=3.0))
    progress.add(EvalRecord(time=6.0, step=2, max_steps=10, eval_loss=1.7))
    assert (progress.step, progress.loss, progress.eval_loss, progress.peak_gib) == (2, 1.5, 1.7, 3.0)
    assert progress.tokens_per_second == 100.0  # a step without a rate keeps the last one
    assert progress.eta() == 40.0 and progress.fraction == 0.2
    progress.add(ResumeRecord(time=100.0, step=2, max_steps=10))
    assert not progress.points and progress.eta() is None  # the rate before a restart does not count


def test_a_status_ahead_of_the_records_moves_the_step_on():
    progress = Progress()
    progress.add_status(RunStatus(step=6, max_steps=60))
    assert (progress.step, progress.max_steps) == (6, 60)
