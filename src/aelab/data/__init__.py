"""Loading, splitting and scaling data: one entry point, ``load_dataset``, and the data options every job
shares, ``DataOptions``."""

from aelab.data.builtin import BUILTIN, list_builtin
from aelab.data.dataset import Dataset
from aelab.data.idx import read_idx
from aelab.data.loading import check_data_options, load_dataset, reads_data_dir, reads_label_column
from aelab.data.options import DataOptions
from aelab.data.preprocessing import MinMaxScaling, Split, split_dataset

__all__ = [
    "Dataset", "DataOptions", "MinMaxScaling", "Split", "list_builtin", "load_dataset", "read_idx",
    "split_dataset", "BUILTIN", "check_data_options", "reads_data_dir", "reads_label_column",
]
