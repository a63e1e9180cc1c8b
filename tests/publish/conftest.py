import sys
from pathlib import Path

# Shared sample frames live beside the suite tests.
sys.path.insert(0, str(Path(__file__).parents[1] / "expectations"))
