"""emotrace.model"""
