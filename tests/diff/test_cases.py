"""Every case file in cases/, run against a fresh pair of servers, once per protocol."""
import os

import pytest

from casefile import CaseFile, case_files
from harness import CaseRunner, format_failures

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")


def _params():
    out = []
    for path in case_files(CASES):
        cf = CaseFile(path)
        for proto in cf.protocols:
            out.append(pytest.param(cf, proto, id=f"{cf.name[:-4]}-resp{proto}"))
    return out


@pytest.mark.parametrize("casefile,protocol", _params())
def test_case_file(casefile, protocol):
    runner = CaseRunner(casefile, protocol)
    mismatches = runner.run()
    for note in runner.notes:
        print("note:", note)
    if mismatches:
        pytest.fail(format_failures(casefile, protocol, mismatches), pytrace=False)
