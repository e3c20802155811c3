"""Offline probes on a frozen pretrained encoder, each a function that
returns (and appends) one JSON record: kNN (:mod:`.knn`), the linear probe
as the linear-probing config run by the Runner (:mod:`.linear`), the dense
probe on the Fashion-MNIST scenes (:mod:`.dense_probe`) and the 1 %
logistic regression (:mod:`.few_shot`); their shared inputs in
:mod:`.common`, the encoder in :mod:`.frozen_encoder`."""
