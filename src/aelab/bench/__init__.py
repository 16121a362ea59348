"""Benchmarks and reference studies, one module each.

Each study module has ``NAME`` and ``run(settings) -> StudyResult``, and logs each of its cells with its time
(logger ``aelab.bench.NAME``); ``STUDIES`` maps the names ``aelab bench NAME`` accepts to those modules,
imported only when the study runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Study name -> (module, the data it runs on when none is given, one line on what it measures).
STUDIES: dict[str, tuple[str, str, str]] = {
    "architectures": ("aelab.bench.architectures", "mnist5k",
                      "depth and width of dense autoencoders at a 2-D code, beside t-SNE"),
    "variants": ("aelab.bench.variants", "mnist5k",
                 "convolutional vanilla, double, variational and batch-KL variational autoencoders at 2 and 32-D"),
    "deep2d": ("aelab.bench.deep2d", "mnist5k",
               "784-400-200-100-50-2 with ReLU everywhere against a linear code and sigmoid output"),
    "oneclass": ("aelab.bench.oneclass", "mnist5k",
                 "one-class anomaly detection: every scorer against IsolationForest, LOF, OC-SVM and PCA, per class"),
    "blobs": ("aelab.bench.blobs", "blobs",
              "PCA-2 against a 50-100-50-2 autoencoder and scikit-learn's MLPRegressor on 20 clusters"),
    "clustering": ("aelab.bench.clustering", "mnist5k",
                   "k-means, GMM, N2D, DEC and IDEC on a pretrained code against raw, PCA, t-SNE and UMAP clustering"),
}


#: The studies that take ``--augment`` (the others train as their reference study did).
AUGMENTING_STUDIES = ("clustering",)
#: The studies that repeat over seeds and take ``--seeds``.
REPEATING_STUDIES = ("clustering",)
#: The studies whose methods can be chosen (``--methods``): study -> its method names, in the order they run.
STUDY_METHODS: dict[str, tuple[str, ...]] = {
    "clustering": ("ae-kmeans", "ae-gmm", "n2d", "dec", "idec", "idec-n2d", "umap-ae-gmm", "umap-ae-n2d",
                   "umap-ae-n2d-input", "raw-kmeans", "pca-kmeans", "tsne-kmeans", "umap-gmm"),
}


def study_module(name: str) -> ModuleType:
    """The module of study ``name``; a ValueError lists the studies when there is none of that name."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")
    return importlib.import_module(STUDIES[name][0])
