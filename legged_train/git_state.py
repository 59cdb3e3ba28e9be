"""Archive the code state of a run: commit, ``git status`` and ``git diff`` of each repo.

Written to ``<log_dir>/git/<repo name>/{commit.txt, status.txt, diff.patch}`` at the start of a run
so any result can be traced back to the exact code, uncommitted edits included.
"""

from __future__ import annotations

import os
import warnings


def store_code_state(log_dir: str, repo_paths: list[str]) -> list[str]:
    """Write the git state of every repo containing a path in ``repo_paths``; returns files written.

    A path outside any git repository (or GitPython missing) gives a warning, never an error:
    losing the archive must not stop training.
    """
    try:
        import git
    except ImportError:
        warnings.warn("GitPython is not installed: the run's git state is not archived", stacklevel=2)
        return []

    written: list[str] = []
    seen_roots: set[str] = set()
    for path in repo_paths:
        try:
            repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            warnings.warn(f"{path!r} is not inside a git repository: its code state is not archived", stacklevel=2)
            continue
        root = repo.working_tree_dir
        if root is None or root in seen_roots:
            continue
        seen_roots.add(root)
        name = os.path.basename(os.path.normpath(root))
        if any(os.path.basename(os.path.normpath(r)) == name for r in seen_roots - {root}):
            name = f"{name}_{len(seen_roots)}"  # two different repos with the same folder name
        out_dir = os.path.join(log_dir, "git", name)
        os.makedirs(out_dir, exist_ok=True)
        try:
            files = {
                "commit.txt": _describe_commit(repo, root),
                "status.txt": repo.git.status(),
                "diff.patch": _diff_against_head(repo),
            }
        except git.GitCommandError as err:
            warnings.warn(f"git failed in {root!r}: {err}; its code state is not archived", stacklevel=2)
            continue
        for file_name, text in files.items():
            file_path = os.path.join(out_dir, file_name)
            with open(file_path, "w", encoding="utf-8") as file:
                file.write(text if text.endswith("\n") or not text else text + "\n")
            written.append(file_path)
    return written


def _describe_commit(repo, root: str) -> str:
    lines = [f"repository: {root}"]
    try:
        commit = repo.head.commit
    except ValueError:  # a repo without commits yet
        lines.append("commit: (no commits yet)")
        return "\n".join(lines)
    branch = "(detached HEAD)" if repo.head.is_detached else repo.active_branch.name
    lines += [
        f"commit: {commit.hexsha}",
        f"branch: {branch}",
        f"date: {commit.committed_datetime.isoformat()}",
        f"message: {commit.message.strip().splitlines()[0] if commit.message.strip() else ''}",
        f"dirty: {repo.is_dirty(untracked_files=True)}",
    ]
    return "\n".join(lines)


def _diff_against_head(repo) -> str:
    """Staged and unstaged changes to tracked files (untracked files are listed in status.txt)."""
    try:
        repo.head.commit
    except ValueError:
        return repo.git.diff("--cached")
    return repo.git.diff("HEAD")
