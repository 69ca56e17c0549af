"""gSR's premise on our generators: the top singular value of each class's conditional-norm parameters.

gSR (Rangwani et al., ECCV 2022) observes that a long-tailed GAN's thin classes collapse together with an
*explosion* of the top singular value of their class-conditional batch-norm gains and biases (each reshaped
into a groups x channels/groups matrix), and penalises it. This reads the EMA generator of finished runs and
writes, per layer and class, sigma_max of (gain - 1) and of the bias, to reports/cbn-spectra.json.

    python benchmarks/cbn_spectra.py runs/mnist-longtail runs/mnist-longtail-3x
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from augmentor.gan.checkpoint import list_checkpoints, load_checkpoint
from augmentor.image.models import group_top_singular_values

ROOT = Path(__file__).resolve().parent.parent
GROUPS = 4


def spectra(run: Path) -> dict:
    ckpt = list_checkpoints(run)[-1]
    weights, state = load_checkpoint(ckpt)
    out = {"checkpoint": f"{run.name}/{ckpt.name}", "classes": list(state["classes"]),
           "train_counts": list(state["counts"].values()) if isinstance(state["counts"], dict) else state["counts"],
           "layers": {}}
    for key, gain in weights.items():
        if key.startswith("ema.") and key.endswith(".gain.weight"):
            bias = weights[key.replace(".gain.", ".bias.")]
            row = {name: [round(float(v), 4) for v in group_top_singular_values(w, GROUPS)]
                   for name, w in (("gain", gain - 1), ("bias", bias))}
            out["layers"][key.removeprefix("ema.").removesuffix(".gain.weight")] = row
    return out


def main() -> None:
    runs = [Path(a) for a in sys.argv[1:]] or [ROOT / "runs" / "mnist-longtail"]
    result = {"groups": GROUPS, "runs": [spectra(r) for r in runs]}
    path = ROOT / "reports" / "cbn-spectra.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    for r in result["runs"]:
        print(r["checkpoint"], r["train_counts"])
        for layer, row in r["layers"].items():
            print(f"  {layer:18s} gain {row['gain']}\n  {'':18s} bias {row['bias']}")


if __name__ == "__main__":
    main()
