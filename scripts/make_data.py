"""Builds the molecule data set from the table RDKit ships: Data/NCI/first_5k.tpsa.csv
(SMILES of the first 5,000 NCI open compounds with their topological polar surface area).

Each output line is one molecule as a graph sample for `gradserve --model gcn`:
    {"smiles": ..., "tpsa": ..., "nodes": [[23 features per atom], ...], "edges": [[i, j], ...], "t": tpsa / 100}
with the 23 features of ../shared/data/nci-tpsa/features.json: one-hot element
(C N O S F Cl Br I P other), one-hot formal charge (-1 0 +1), aromatic, one-hot hydrogen
count (0 1 2 3+), one-hot degree (0 1 2 3 4+).

Usage: python make_data.py OUTPUT_DIR
"""
import json
import os
import random
import sys

from rdkit import Chem, RDConfig, RDLogger

ELEMENTS = ["C", "N", "O", "S", "F", "Cl", "Br", "I", "P"]
CHARGES = [-1, 0, 1]


def one_hot(index, size):
    row = [0] * size
    row[index] = 1
    return row


def atom_features(atom):
    symbol = atom.GetSymbol()
    element = one_hot(ELEMENTS.index(symbol) if symbol in ELEMENTS else len(ELEMENTS), len(ELEMENTS) + 1)
    charge = one_hot(CHARGES.index(atom.GetFormalCharge()), len(CHARGES))
    aromatic = [1 if atom.GetIsAromatic() else 0]
    hydrogens = one_hot(min(atom.GetTotalNumHs(), 3), 4)
    degree = one_hot(min(atom.GetDegree(), 4), 5)
    return element + charge + aromatic + hydrogens + degree


def molecule(smiles, tpsa):
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() < 2:
        return None
    if any(atom.GetFormalCharge() not in CHARGES for atom in mol.GetAtoms()):
        return None
    nodes = [atom_features(atom) for atom in mol.GetAtoms()]
    edges = [[bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()] for bond in mol.GetBonds()]
    return {"smiles": smiles, "tpsa": tpsa, "nodes": nodes, "edges": edges, "t": round(tpsa / 100, 6)}


def main(output):
    RDLogger.DisableLog("rdApp.*")
    table = os.path.join(RDConfig.RDDataDir, "NCI", "first_5k.tpsa.csv")
    molecules = []
    with open(table) as lines:
        for line in lines:
            if line.startswith("#") or "," not in line:
                continue
            smiles, tpsa = line.strip().rsplit(",", 1)
            try:
                value = float(tpsa)
            except ValueError:
                continue
            entry = molecule(smiles.strip(), value)
            if entry is not None:
                molecules.append(entry)
    random.Random(0).shuffle(molecules)
    os.makedirs(output, exist_ok=True)
    for name, part in [("train.jsonl", molecules[:3500]), ("valid.jsonl", molecules[3500:4000])]:
        with open(os.path.join(output, name), "w") as out:
            for entry in part:
                out.write(json.dumps(entry, separators=(",", ":")) + "\n")
        print(f"{output}/{name}: {len(part)} molecules")


if __name__ == "__main__":
    main(sys.argv[1])
