"""Reading and checking annotation tables (CSV/TSV/XLSX): every error names the file and the row.

Rows are reported 1-based with the header as row 1 (the number a spreadsheet shows).
"""
import os.path as osp
from typing import Sequence

import pandas as pd


def read_table(path: str, what: str = 'Annotation file', **kwargs) -> pd.DataFrame:
    """A CSV (``.csv``/``.tsv``/other text) or Excel (``.xlsx``/``.xls``) table.

    Args:
        path (str): The file; the extension picks the reader.
        what (str): How the file is called in the not-found message.
        **kwargs: Passed to ``pd.read_excel`` / ``pd.read_csv`` (e.g. ``dtype``).

    Raises:
        FileNotFoundError: No such file. ValueError: the content is not the format its name says (e.g. a CSV
            named ``.xlsx``) or the file has no data rows; both name the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    excel = path.lower().endswith(('.xlsx', '.xls'))
    try:
        if excel:
            df = pd.read_excel(path, **kwargs)
        else:
            df = pd.read_csv(path, sep='\t' if path.lower().endswith('.tsv') else ',', **kwargs)
    except Exception as e:  # noqa: BLE001 - pandas/openpyxl raise many types; all mean "not this format"
        kind = 'an Excel workbook' if excel else 'a CSV/TSV text table'
        raise ValueError(f'{path}: cannot be read as {kind}, as its name says ({type(e).__name__}: '
                         f'{str(e).splitlines()[0] if str(e) else ""}).') from None
    if df.empty:
        raise ValueError(f'{path}: the table has no data rows (columns: {list(df.columns)}).')
    return df


def refuse_empty_cells(df: pd.DataFrame, columns: Sequence[str], path: str) -> None:
    """Raise on the first empty cell of ``columns`` (it would become the string ``'nan'``)."""
    empty = df[list(columns)].isna()
    if empty.any().any():
        row = int(empty.any(axis=1).idxmax())
        col = next(c for c in columns if empty.at[row, c])
        raise ValueError(f'{path}: row {row + 2}: empty {col!r} cell ({int(empty.to_numpy().sum())} empty '
                         f'cell(s) in {list(columns)} in total).')


def refuse_non_binary(df: pd.DataFrame, columns: Sequence[str], path: str) -> None:
    """Raise on the first cell of ``columns`` that is not 0 or 1 (``1.7`` must not become 1, nor ``-1`` count
    as a label)."""
    bad = ~df[list(columns)].isin([0, 1])
    if bad.any().any():
        row = int(bad.any(axis=1).idxmax())
        col = next(c for c in columns if bad.at[row, c])
        value = df.at[row, col]
        value = value.item() if hasattr(value, 'item') else value  # numpy scalar -> plain number for the message
        raise ValueError(f'{path}: row {row + 2}: {col} = {value!r}; label cells must be 0 or 1 '
                         f'({int(bad.to_numpy().sum())} such cell(s) in {list(columns)}).')


def refuse_duplicates(values: pd.Series, path: str, column: str) -> None:
    """Raise when an image is listed twice: it would be sampled and weighted twice and, in a split, can leak
    into both sides. The message names the file, the value and its rows."""
    dup = values[values.duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        rows = [int(i) + 2 for i in dup.index[dup == first]]
        raise ValueError(f'{path}: {column} {first!r} is listed more than once (rows {rows}); '
                         f'{dup.nunique()} value(s) are duplicated in total.')
