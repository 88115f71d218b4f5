"""The Diagonal BiLSTM's pieces: skewing makes a column of the map one diagonal of the image and
unskewing undoes it; the layer is chosen by the config. Causality, the whole causal field and cached
= naive sampling are checked with every model in test_ar_properties.py (``pixelrnn+diagonal``)."""

from __future__ import annotations

import pytest
import torch

from untaught.models.autoregressive.pixelrnn import DiagonalBiLSTM, PixelRNN, PixelRNNConfig, RowLSTM, skew, unskew


def test_skew_puts_each_diagonal_in_one_column_and_unskew_undoes_it():
    x = torch.arange(1, 13).view(1, 3, 4)  # [1, H=3, W=4]
    s = skew(x)
    assert s.shape == (1, 3, 6)
    for t in range(6):
        diagonal = [x[0, i, t - i].item() for i in range(3) if 0 <= t - i < 4]
        assert [v for v in s[0, :, t].tolist() if v] == diagonal
    assert (s == 0).sum() == 3 * 6 - 12
    assert torch.equal(unskew(s, 4), x)


def test_layer_option_selects_the_lstm():
    row = PixelRNN(PixelRNNConfig(shape=(1, 4, 4), levels=2, layers=2, hidden=4))
    diagonal = PixelRNN(PixelRNNConfig(shape=(1, 4, 4), levels=2, layer="diagonal", layers=2, hidden=4))
    assert all(isinstance(m, RowLSTM) for m in row.rows) and all(isinstance(m, DiagonalBiLSTM) for m in diagonal.rows)
    with pytest.raises(ValueError, match="layer must be 'row' or 'diagonal'; got 'column'"):
        PixelRNNConfig(layer="column")
