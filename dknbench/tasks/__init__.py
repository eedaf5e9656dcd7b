"""Tasks: YAML schema, discovery, and one small class per experiment."""

from .base import TASK_CLASSES, RunContext, SkipFact, Summary, Task, metric_record
from .config import TaskConfig, load_task_config
from .registry import discover_tasks, get_task, task_class, task_origin, task_parts

__all__ = ["TASK_CLASSES", "RunContext", "SkipFact", "Summary", "Task", "metric_record",
           "TaskConfig", "load_task_config", "discover_tasks", "get_task",
           "task_class", "task_origin", "task_parts"]
