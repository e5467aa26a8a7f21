"""emotrace.pipelines"""
