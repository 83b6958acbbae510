from tests.closebooks.checklist.conftest import eager_tasks, start_checklist, task_template, team

__all__ = ["eager_tasks", "start_checklist", "task_template", "team"]
