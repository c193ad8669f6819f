"""The project root of the block being run."""
from blockflow_runtime.context import data_dir, project_root


def get_repo_path(*args, **kwargs) -> str:
    return project_root()


def get_variables_dir(*args, **kwargs) -> str:
    return data_dir()


def get_data_dir(*args, **kwargs) -> str:
    return data_dir()
