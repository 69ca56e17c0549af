"""Prepare the table case with an unlabelled pool (recipes/breast-cancer-unlabelled.toml; part of `make data`).

scikit-learn ships the Wisconsin breast-cancer table (569 rows, 30 numeric columns; nothing is downloaded).
A seeded stratified split writes

  data/breast-cancer-pool/train.csv       labelled rows (the recipe thins its malignant class to 20 %, as
                                          recipes/breast-cancer.toml does)
  data/breast-cancer-pool/test.csv        30 % of the table, stratified, never thinned
  data/breast-cancer-pool/unlabelled.csv  the pool: rows with the population's class mix and no label column

train and unlabelled split the remaining 70 % in half, so every row is in exactly one file. Same files on every
machine (their sha256 are printed).

    python benchmarks/prepare_table_pool.py [--out data/breast-cancer-pool]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/breast-cancer-pool")
    out = Path(ap.parse_args().out)
    frame = load_breast_cancer(as_frame=True).frame
    names = load_breast_cancer().target_names
    frame["label"] = [str(names[t]) for t in frame.pop("target")]
    rest, test = train_test_split(frame, test_size=0.3, stratify=frame["label"], random_state=0)
    train, pool = train_test_split(rest, test_size=0.5, stratify=rest["label"], random_state=0)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("test", test), ("unlabelled", pool.drop(columns=["label"]))):
        path = out / f"{name}.csv"
        tmp = path.with_suffix(".csv.tmp")
        part.to_csv(tmp, index=False)
        tmp.replace(path)
        counts = part["label"].value_counts().to_dict() if "label" in part else "labels not written"
        print(f"{path}  {len(part)} rows  {counts}  sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
