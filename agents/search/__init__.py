"""Search strategies the loop drives (`--search chain|beam`); see `agents.search.base`."""

from agents.config import SearchKind
from agents.search.base import CandidatePlan, SearchState, Strategy
from agents.search.beam import BeamSearch
from agents.search.chain import ChainSearch

STRATEGIES: dict[str, type[ChainSearch] | type[BeamSearch]] = {
    "chain": ChainSearch,
    "beam": BeamSearch,
}


def make_strategy(kind: SearchKind) -> Strategy:
    return STRATEGIES[kind]()


__all__ = ["STRATEGIES", "CandidatePlan", "SearchState", "Strategy", "make_strategy"]
