"""The int64 layer table that maps the flat parameter buffer to layers."""

import numpy as np

from .kernels.codes import B_OFF, LAYOUT_COLUMNS, N_IN, N_OUT, UNIT_OFF, W_OFF


def build_layout(sizes):
    """Return (layout, n_parameters, n_units) for layer sizes [n_0, ..., n_L].

    Layer l (0-based, L rows) stores W^l as an (n_{l+1}, n_l) row-major block
    followed by b^l, so the flat vector reads W^0, b^0, W^1, b^1, ...
    n_units = n_1 + ... + n_L sizes the per-row work buffers.
    """
    n_layers = len(sizes) - 1
    layout = np.zeros((n_layers, LAYOUT_COLUMNS), dtype=np.int64)
    offset = 0
    units = 0
    for layer in range(n_layers):
        n_in, n_out = int(sizes[layer]), int(sizes[layer + 1])
        layout[layer, W_OFF] = offset
        layout[layer, B_OFF] = offset + n_out * n_in
        layout[layer, N_IN] = n_in
        layout[layer, N_OUT] = n_out
        layout[layer, UNIT_OFF] = units
        offset += n_out * n_in + n_out
        units += n_out
    return layout, offset, units


def weight_mask(layout, n_parameters):
    """Boolean (n_parameters,) mask: True on weights, False on biases."""
    mask = np.zeros(n_parameters, dtype=bool)
    for row in layout:
        mask[row[W_OFF]:row[B_OFF]] = True
    return mask


def split(flat, layout):
    """Per-layer (W, b) views of a flat parameter-shaped array."""
    weights, biases = [], []
    for row in layout:
        n_in, n_out = int(row[N_IN]), int(row[N_OUT])
        w0, b0 = int(row[W_OFF]), int(row[B_OFF])
        weights.append(flat[w0:b0].reshape(n_out, n_in))
        biases.append(flat[b0:b0 + n_out])
    return weights, biases
