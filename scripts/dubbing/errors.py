"""The one error type users see: a file and what is wrong with it, on one line."""


class DubbingError(Exception):
    """A problem the user can fix, reported as ``<file>: <problem>``."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
