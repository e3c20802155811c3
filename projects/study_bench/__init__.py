"""The study bench of mmsiameseim (an OpenMMLab ``projects/`` folder).

Everything that exists to study SiameseIM at small scale rather than to
run it: the Fashion-MNIST reproduction rows and their summaries
(``studies/``), the seeded "Fashion-MNIST scenes" for dense tasks
(``scenes/``), the offline probes on frozen features (``probes/``: kNN,
the linear-probing config, dense, the 1 % logistic regression), the
CPU-sized segmentation and detection transfer runs (``transfer/``), the
throughput benchmark (``throughput/``), the one way to make a config small
(``sizes.py``) and their configs (``configs/``). It builds on the
``mmsiameseim`` plugin and is never imported by it. The command lines are
in ``tools/benchmarks`` and ``tools/data``; see ``README.md`` here.

Importable by name from the repository root (``import projects.
study_bench``): the editable install puts the root on the path, and the
Makefile and launch scripts set ``PYTHONPATH`` as OpenMMLab's do.
"""
