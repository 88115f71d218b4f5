"""Config validation names the field, what it expected and what it got (one shared check)."""

import pytest

from untaught.models.autoregressive.made import MADEConfig
from untaught.models.autoregressive.wavenet import WaveNetConfig
from untaught.models.base import ModelConfig, check_fields, require_binary
from untaught.models.boltzmann.dbm import DBMConfig
from untaught.models.flows.cdf import CDFFlowConfig
from untaught.models.flows.maf import MAFConfig


def test_check_fields_names_the_first_failed_field():
    config = ModelConfig(shape=(2,), levels=3)
    check_fields(config, [("levels", True, "anything")])
    with pytest.raises(ValueError, match=r"^levels must be >= 5; got 3$"):
        check_fields(config, [("shape", True, "-"), ("levels", False, ">= 5"), ("shape", False, "-")])
    with pytest.raises(
        ValueError, match=r"^the X models binary data: levels must be 2 \(train with --binarize\); got 3$"
    ):
        require_binary(config, "the X")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MADEConfig(shape=(4,), levels=2, ensemble=0), r"ensemble must be >= 1; got 0"),
        (lambda: WaveNetConfig(shape=(1, 1, 8), levels=4, cycle=0), r"cycle must be >= 1; got 0"),
        (
            lambda: MAFConfig(shape=(2,), levels=None, hidden=()),
            r"hidden must be one or more positive layer sizes; got \(\)",
        ),
        (lambda: CDFFlowConfig(shape=(2,), levels=None, beta_b=0.0), r"beta_b must be > 0; got 0.0"),
        (lambda: DBMConfig(shape=(4,), levels=3), r"the DBM models binary data: levels must be 2"),
    ],
)
def test_config_errors_name_the_field(make, message):
    with pytest.raises(ValueError, match=message):
        make()
