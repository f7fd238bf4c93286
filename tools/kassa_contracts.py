"""Import-linter contract types of kassa's own (used by ``make check``).

``acyclic_modules``: no import cycle between any two modules under the given packages, counting
every import statement (function-local ones too). Packages may depend on each other both ways
(a domain package holds its routes as well as its rules); modules may not.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        prefixes = tuple(str(p) for p in self.packages)  # type: ignore[attr-defined]
        modules = [m for m in graph.modules if m.startswith(prefixes)]
        sorter = TopologicalSorter(
            {m: graph.find_modules_directly_imported_by(m) & set(modules) for m in modules}
        )
        try:
            sorter.prepare()
        except CycleError as cycle:  # args[1]: the modules of one cycle, the first repeated
            return ContractCheck(kept=False, warnings=None, metadata={"cycle": cycle.args[1]})
        return ContractCheck(kept=True, warnings=None, metadata={})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print("Modules importing each other in a circle:")
        for module in sorted(set(check.metadata["cycle"])):
            output.print(f"- {module}")
        output.new_line()
