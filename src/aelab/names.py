"""The names the command line offers and the result files use, in a module that imports nothing heavy.

``aelab --help`` builds its choices from here, so it starts without torch or scikit-learn. Each registry
keyed by these names (``aelab.parts.kinds.KINDS``, ``aelab.cluster.METHODS``, ``aelab.compare.METHODS``,
``aelab.parts.augmentations.AUGMENT_CHOICES``, ``aelab.nn.layers.ACTIVATIONS``) lists them in the same order;
tests/test_names.py checks it.
"""

#: The kinds of autoencoder (``aelab train --kind``), each a composition of parts in ``aelab.parts.kinds``.
KINDS = ("vanilla", "conv", "denoising", "sparse", "contractive", "variational", "variational-batch", "double",
         "umap")

#: The methods a comparison fits and the keys of every metrics.json: the input itself, PCA, t-SNE, UMAP,
#: the autoencoder and the autoencoder with UMAP's neighbour-graph loss on its code.
METHODS = ("raw", "pca", "tsne", "umap", "ae", "umap-ae")

#: The clusterers of ``aelab cluster --method`` (``aelab.cluster.METHODS``).
CLUSTER_METHODS = ("kmeans", "gmm", "n2d", "dec", "idec")

#: The anomaly scorers of ``aelab.anomaly`` (``aelab detect --scorer`` offers them but ``ocsvm``).
SCORERS = ("mse", "smooth-mse", "bce", "isolation-forest", "lof", "ocsvm", "gmm", "elbo", "combined")
#: The detector's default scorer: ``smooth-mse`` for images, ``mse`` for other data.
DEFAULT_SCORER = "auto"

#: The activations of hidden layers (``aelab.nn.layers.ACTIVATIONS``).
ACTIVATIONS = ("relu", "leaky-relu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid")

#: The image augmentations of ``--augment`` (``aelab.parts.augmentations.AUGMENT_CHOICES``).
AUGMENTATIONS = ("none", "affine", "affine-flip", "affine-small")

#: What training does on a NaN or infinite loss: stop with the last good weights, or restore them and halve
#: the learning rate.
ON_DIVERGENCE = ("stop", "restore-halve-lr")
