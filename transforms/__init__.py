"""emotrace.transforms"""
