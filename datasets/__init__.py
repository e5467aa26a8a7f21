"""emotrace.datasets"""
