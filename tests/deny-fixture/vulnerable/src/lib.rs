// Empty: the fixture is never compiled.
