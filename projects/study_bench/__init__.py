"""The study bench of mmsiameseim (an OpenMMLab ``projects/`` folder).

Everything that exists to study SiameseIM at small scale rather than to
run it: the Fashion-MNIST reproduction rows and their summaries, the
seeded "Fashion-MNIST scenes" for dense tasks, the offline probes on frozen
features (kNN, linear, dense, the 1 % logistic regression), the CPU-sized
segmentation and detection transfer runs, the throughput and GPU studies,
and their configs (``configs/``). It builds on the ``mmsiameseim`` plugin
and is never imported by it. The command lines are in ``tools/benchmarks``
and ``tools/data``; see ``README.md`` here.

Importable by name from the repository root (``import projects.
study_bench``): the editable install puts the root on the path, and the
Makefile and launch scripts set ``PYTHONPATH`` as OpenMMLab's do.
"""
