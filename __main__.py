"""The quicksight-promotion Pulumi program: promote one QuickSight export into this stage's account.

Configuration (see Pulumi.yaml for every setting, examples/ for stage files, README for a walk-through).
"""

from components.program import run

bundle = run()
