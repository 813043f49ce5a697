"""Hierarchy, communes, users, roles, sign-in, scoping and audit."""
