"""emotrace.media"""
