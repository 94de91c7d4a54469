"""The GLAD family colours (data/glad_families.csv) stay apart for normal and colour-blind vision.

Each deficiency is simulated with colour-science's Machado et al. (2009) matrices at severity 1
(protanopia, deuteranopia, tritanopia), and every pair of families is compared with CIEDE2000.
All 66 pairs count: on a land-cover map any family can border any other (coasts put the ocean next
to every land family; gaps of no data fall anywhere). The threshold, dE2000 >= 15, is well above the
just-noticeable difference (about 1-2) and above what small adjacent map patches need (about 10);
the previous palette had 2.8 (short vegetation vs cropland, deuteranopia).
"""

from __future__ import annotations

import itertools

import colour  # colour-science, a direct dependency: missing it fails the test rather than skipping it
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from utils import data

MIN_DELTA_E = 15
DEFICIENCIES = {"normal vision": None, "deuteranopia": "Deuteranomaly", "protanopia": "Protanomaly",
                "tritanopia": "Tritanomaly"}  # fmt: skip


def seen_as(rgb: np.ndarray, deficiency: str | None, space: str) -> np.ndarray:
    """CIELAB of sRGB colours as a viewer with ``deficiency`` sees them (matrix applied in ``space``)."""
    linear = colour.models.eotf_sRGB(rgb)
    if deficiency:
        matrix = colour.blindness.matrix_cvd_Machado2009(deficiency, 1)
        if space == "linear":  # Machado's model works on linear RGB ...
            linear = np.clip(linear @ matrix.T, 0, 1)
        else:  # ... many tools apply it to the encoded values: both must pass
            linear = colour.models.eotf_sRGB(np.clip(rgb @ matrix.T, 0, 1))
    xyz = colour.RGB_to_XYZ(linear, colour.RGB_COLOURSPACES["sRGB"], apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz, colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"])


@pytest.mark.filterwarnings("ignore::colour.utilities.ColourUsageWarning")  # tritanomaly is an approximation
@pytest.mark.parametrize("space", ["linear", "encoded"])
@pytest.mark.parametrize("vision", list(DEFICIENCIES))
def test_every_pair_of_families_stays_apart(vision: str, space: str) -> None:
    cmap, norm, labels = data.legend_colormap()
    lab = seen_as(np.array([to_rgb(cmap(i)) for i in range(cmap.N)]), DEFICIENCIES[vision], space)
    too_close = {
        (labels[i], labels[j]): round(float(colour.delta_E(lab[i], lab[j], method="CIE 2000")), 1)
        for i, j in itertools.combinations(range(len(labels)), 2)
        if colour.delta_E(lab[i], lab[j], method="CIE 2000") < MIN_DELTA_E
    }
    assert not too_close, f"{vision}: families closer than dE2000 {MIN_DELTA_E}: {too_close}"
