"""Results rendering: Allure metadata and the cross-platform comparison report."""
