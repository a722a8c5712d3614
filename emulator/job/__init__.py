"""One job's flow, stage by stage: prepare, build, machine, container, logs, artifacts, move, finish.

runner.py chains them; agent_main.py is the detached agent process."""
