"""``python -m adapters.ngsp`` runs the simulator (same as ``python -m adapters.ngsp.simulator``)."""

from .simulator import main

main()
