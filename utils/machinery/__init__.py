"""The course's machinery, which lessons never import (a learner may open ``utils/*.py``; not this):
``sample_data`` (the factory of the sample files), ``cloud_server`` (the process behind
``utils.local_cloud``), ``notebooks`` (executing, sanitizing, learner copies), ``jupyter`` (Jupyter
configuration for hubs), ``offline`` (the guard that keeps test runs off the network)."""
