"""emotrace.analytics"""
