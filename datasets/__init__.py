"""Collections of videos: input manifests, the bundled sample posts, labelled training corpora."""
