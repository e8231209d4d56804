"""Real, published data sets shipped with tealeaves, written as the exports a business would hand the loader.

Unlike `tealeaves generate`, nothing here was simulated by tealeaves: these are the product's check on data its
own generator did not write (`tealeaves sample cdnow --out DIR`).
"""
