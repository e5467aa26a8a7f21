"""emotrace.features"""
