"""Fail if installing srgan-course would change a package of Colab's preinstalled stack.

Usage: python check_install.py REPORT.json CONSTRAINTS.txt
REPORT.json is `pip install --dry-run --report` of the project in a venv that holds the
stack; CONSTRAINTS.txt is Colab's pip freeze (`name==version` lines). Every package pip
would install is listed; one that Colab already has (at any version) is an error, since
pip would replace Colab's copy with another version.
"""

import json
import re
import sys


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(report_path: str, constraints_path: str) -> int:
    colab = {}
    with open(constraints_path, encoding="utf-8") as lines:
        for line in lines:
            name, sep, version = line.strip().partition("==")
            if sep and not line.startswith("#"):
                colab[canonical(name)] = version
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    changed = []
    for item in report["install"]:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if canonical(name) == "srgan-course":
            continue
        if canonical(name) in colab:
            changed.append(f"{name} {colab[canonical(name)]} -> {version}")
        print(f"would install {name} {version}" + ("" if canonical(name) in colab else " (new)"))
    if changed:
        print("installing srgan-course would change Colab's packages:\n  " + "\n  ".join(changed))
        return 1
    print(f"ok: installing srgan-course changes none of Colab's {len(colab)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
