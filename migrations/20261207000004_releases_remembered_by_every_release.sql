-- The previous release's release statement empties a coupon's order without adding it to
-- `released_orders`; while it still runs beside this one (a rolling upgrade), a late retry of
-- an order it released would pass the new hold and redemption statements. So the row itself
-- remembers: whenever an update takes the order off a coupon, that order is added, whichever
-- release wrote the update. It runs under the update's own row lock.
CREATE FUNCTION issued_coupons_remember_released_orders() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.order_id IS NOT NULL AND NEW.order_id IS NULL
        AND NOT (OLD.order_id = ANY (NEW.released_orders)) THEN
        NEW.released_orders := array_append(NEW.released_orders, OLD.order_id);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER issued_coupons_released_orders_are_remembered
    BEFORE UPDATE OF order_id ON issued_coupons
    FOR EACH ROW
    WHEN (OLD.order_id IS NOT NULL AND NEW.order_id IS NULL)
    EXECUTE FUNCTION issued_coupons_remember_released_orders();
