"""The register's errors are the shared runtime's RFC 9457 problems (``estate_runtime.problems``)."""

from __future__ import annotations

from estate_runtime.problems import BASE, PROBLEM_JSON, Problem, from_domain, install, problem_response

__all__ = ["BASE", "PROBLEM_JSON", "Problem", "from_domain", "install", "problem_response"]
