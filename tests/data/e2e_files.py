"""A tiny E2E-format CSV for tests (the shape of the real data, offline)."""

import csv

TINY_E2E = [
    (
        "name[The Eagle], eatType[pub], area[riverside]",
        "The Eagle is a pub by the river.",
    ),
    (
        "name[The Eagle], eatType[pub], area[riverside]",
        "By the river, The Eagle is a pub.",
    ),
    ("name[Zizzi], food[Italian]", "Zizzi serves Italian food."),
    (
        "name[The Eagle], eatType[pub], area[riverside]",
        "There is a riverside pub, The Eagle.",
    ),
    ("name[Café Rouge], priceRange[£20-25]", "Café Rouge costs £20-25."),
    ("name[Zizzi], food[Italian]", "Italian food is served at Zizzi."),
]


def write_e2e_csv(path, rows=TINY_E2E, header=("mr", "ref")):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)
