"""Sample: the generated, synthetic default data (fictional trusts, published layouts), and the
manifest and labels that keep it from being mistaken for NHS England's figures.
"""
