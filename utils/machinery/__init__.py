"""The course's machinery: what the tests, scripts and setup use, and lessons never import.

- ``sample_data``: the factory of the synthetic sample files (``python -m utils.machinery.sample_data``);
- ``cloud_server``: the process behind :mod:`utils.local_cloud` (moto's S3 server and an HTTP file server);
- ``notebooks``: executing notebooks, sanitizing their outputs, learner copies;
- ``offline``: the guard that keeps test runs off the network.

A learner may open the modules one level up (``utils/*.py``); nothing here is part of a lesson.
"""
