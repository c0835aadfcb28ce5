"""The central view of `vigil serve`: a tile per bed on one page (`page`), fed by one stream for the site (`stream`)."""
