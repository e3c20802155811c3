"""Offline probes on frozen features: the encoder of a pretraining config
(:mod:`.frozen_encoder`), linear and dense probes, the 1 % logistic
regression, and the command-line pieces the probe tools share."""
