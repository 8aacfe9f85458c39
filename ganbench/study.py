"""placeholder"""
def add_sweep_parser(sub, run_parser):
    pass
def cmd_sweep(args):
    return 0
