"""L2-regularised multinomial logistic regression on frozen features.

The paper's "1 %" column trains no network: it fits a linear classifier on
frozen cls features of the 1 % labelled ImageNet subset, following MSN's
``logistic_eval.py`` with cyanure. Here the same estimator is fitted with
scikit-learn (a well-kept library, no compiled extra to install):

* rows are **centred** (each feature vector minus its own mean over the
  channels) and **L2-normalised**: cyanure's ``preprocess(X,
  centering=True, normalize=True, columns=False)``, which operates on rows;
* the objective is ``(1/N) sum_i CE(W x_i, y_i) + (lambda/2) ||W||^2``
  with ``lambda = lambda_0 / N`` (``lambda_0`` = 0.1 for ViT-B, 0.01 for
  ViT-L in the original scripts), no intercept. Dividing by ``lambda``
  gives scikit-learn's ``C sum_i CE + ||W||^2 / 2`` with
  ``C = 1 / (N lambda) = 1 / lambda_0``.

scikit-learn's L-BFGS solves the same convex problem as cyanure's solvers;
the minimiser is unique, so the classifiers agree up to the solvers'
tolerances (checked against a direct L-BFGS minimisation of the objective
in ``tests/test_evaluation/test_logistic_regression.py``).
"""
from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


def _numpy(x: Array) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def preprocess_rows(feats: Array) -> np.ndarray:
    """Centre every row on its own mean, then L2-normalise it.

    Args:
        feats (np.ndarray | Tensor): ``(N, C)`` features.

    Returns:
        np.ndarray: float64 ``(N, C)``; an all-constant row becomes zeros.
    """
    x = _numpy(feats).astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f'features must be (N, C), got shape {x.shape}')
    x = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.)


def fit_logistic_regression(feats: Array,
                            labels: Array,
                            lambd: float = 0.1,
                            max_iter: int = 1000,
                            tol: float = 1e-6):
    """Fit the multinomial logistic regression of the 1 % evaluation.

    Args:
        feats (np.ndarray | Tensor): ``(N, C)`` raw features (preprocessed
            here with :func:`preprocess_rows`).
        labels (np.ndarray | Tensor): ``(N, )`` integer labels.
        lambd (float): ``lambda_0``: the L2 weight is ``lambda_0 / N`` per
            sample. Defaults to 0.1 (the ViT-B recipe).
        max_iter (int): L-BFGS iterations. Defaults to 1000.
        tol (float): L-BFGS tolerance. Defaults to 1e-6.

    Returns:
        sklearn.linear_model.LogisticRegression: The fitted classifier
        (``coef_`` is ``(K, C)``, no intercept).
    """
    from sklearn.linear_model import LogisticRegression
    x = preprocess_rows(feats)
    y = _numpy(labels).astype(np.int64).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f'{len(x)} feature rows but {len(y)} labels')
    if lambd <= 0:
        raise ValueError(f'lambd must be > 0, got {lambd}')
    if len(np.unique(y)) < 2:
        raise ValueError('logistic regression needs at least two classes')
    clf = LogisticRegression(
        C=1. / lambd, fit_intercept=False, max_iter=max_iter, tol=tol)
    return clf.fit(x, y)


def logistic_regression_accuracy(classifier, feats: Array,
                                 labels: Array) -> float:
    """Top-1 accuracy (percent) of :func:`fit_logistic_regression`'s model.

    Args:
        classifier: The fitted classifier.
        feats (np.ndarray | Tensor): ``(M, C)`` raw features.
        labels (np.ndarray | Tensor): ``(M, )`` labels.

    Returns:
        float: Percent of rows whose arg-max class is the label.
    """
    pred = classifier.predict(preprocess_rows(feats))
    y = _numpy(labels).reshape(-1)
    return float((pred == y).mean() * 100.)
