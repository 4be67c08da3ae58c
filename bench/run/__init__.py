"""One run: everything that trains, resumes, checkpoints and re-measures a single cell in its run folder.

``launch.train(plan, run_dir)`` is the entry point (one process, or the ranks of a data-parallel run); ``loop`` is
the training loop; ``setup`` builds what a run needs (device, data, method, evaluator); ``folder`` is the run
folder, its CSV rows and status; ``state`` decides whether a folder is done or may resume; ``locks`` keeps two
processes off one cell; ``checkpoint``, ``batches``, ``interrupts``, ``distributed``, ``monitor``,
``progress``, ``provenance`` and ``samples`` serve the loop; ``posthoc`` is ``bench eval`` and ``bench sample``.
The RNG helpers the metrics share with the loop are ``bench.rng``.
"""
